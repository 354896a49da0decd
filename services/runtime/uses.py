"""The concrete uses of the RSL 1.0 usage vocabulary: what a vendor actually does with a
work. Every service that names a use (licensing, provenance, metering) speaks these."""

CONCRETE_USES = ("ai-train", "ai-input", "ai-index", "search")
