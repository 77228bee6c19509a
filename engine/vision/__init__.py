"""``torchvision``: datasets and transforms."""
