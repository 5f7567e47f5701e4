"""Training PortraitTalk (docs/training.md): ``preprocess`` videos into clips, the per-stage data
sets, the three diffusion stages and audio-to-motion as tasks, and the accelerate ``trainer``.
Nothing heavy is imported with the package itself."""
