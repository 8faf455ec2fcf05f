"""zoocheck: convert ImageNet classifiers from many model zoos to ONNX and prove they still agree."""

__version__ = "0.1.0"
