"""Long fuzzing runs (``make fuzz``): each ``fuzz_*.py`` module here has ``main(argv) -> int``."""
