"""The live wall: approved reflections the delegates agreed may be shown in the room, one at a
time, on the venue's big screen (``/wall``)."""
