"""The public archive of the day: perspectives, reflections and highlights reels anyone may see."""
