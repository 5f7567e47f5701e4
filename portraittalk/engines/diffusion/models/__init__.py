"""The diffusion engine's networks: IdentityNet, AnimateNet, their attention processors, the face
projection and the denoiser that joins them."""
