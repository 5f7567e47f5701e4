"""The diffusion weights folder's layout: its one config reader, loading and saving, checkpoint
conversion and import, and whether the engine can run (without torch)."""
