"""Everything that touches media files. Pure: no Flask imports; paths and bytes in, results out."""
