"""Building index versions: parse documents, chunk them, embed the chunks, publish a version."""
