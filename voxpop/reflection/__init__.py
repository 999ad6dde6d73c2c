"""One reflection's life: intake (multipart and tus), records, processing, speech, withdrawal."""
