"""What tests share, so that no test module imports another: the emulator and fake APIs
(emulator.py), a migration driven in process (migration.py), the command line as a subprocess
(cli.py), real audio (audio.py) and the benchmarks as modules (bench.py). Imports audit and
third-party packages, never a test module."""
