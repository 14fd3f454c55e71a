"""One module per file format, each holding its reader and its writer."""
