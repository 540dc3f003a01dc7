"""The models: the sentence encoder and the span reader, in torch or ONNX Runtime; trained weights beside them."""
