"""Face analysis: landmarks, crops, head contour, person mask, identity embeddings."""
