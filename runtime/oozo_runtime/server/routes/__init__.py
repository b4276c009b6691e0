"""One router per area: health (probes + metrics), query, info, ui."""
