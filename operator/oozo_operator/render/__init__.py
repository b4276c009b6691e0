"""Pure renderers: RagCorpus spec (+ small observed inputs) → child manifests as plain dicts.

No I/O here. Each module renders one kind of child; `Corpus` carries what they all need.
"""
