"""Publishing: the static export, the S3 directory sync and the event's publishing rules."""
