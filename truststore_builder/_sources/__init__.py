"""One module per source of certificates: files and bytes, the NHS catalogue, certifi."""
