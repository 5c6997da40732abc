"""The layer everything else builds on: the codec contract, domains and tasks, the bitstream
container, image I/O and transfer functions. It imports nothing else of the project."""
