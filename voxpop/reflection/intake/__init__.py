"""Intake: how a delegate's reflection reaches the server and becomes one stored reflection.

- ``tus``: the resumable upload protocol (tus 1.0) the kiosk sends recordings with;
- ``uploads``: the records behind those uploads, expiry, and the step that makes a finished
  upload exactly one reflection (through ``voxpop.reflection.records.receive_reflection``, the same
  door as the multipart POST);
- ``staging``: the partial uploads on disk (pure file work);
- ``receipts``: receipt codes, including the pool a kiosk holds to show codes offline.
"""
