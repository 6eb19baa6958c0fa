"""resnet_lab."""
