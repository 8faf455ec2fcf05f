"""Small, exact rewrites of exported graphs that no maintained library does the way zoocheck needs.

Each one computes the same function as the graph it rewrites (the tests check it numerically). One
module per concern; ``converters/graph/canonical.py`` runs them in its order, ``converters/normalize.py``
the ones every file zoocheck writes needs:

- ``onnx_graph``: reading and editing an ONNX graph in place (attributes, initializers, readers,
  inferred shapes), and the opset facts the rewrites and templates test against;
- ``conformance``: what the IR version and opset require (initializers as inputs at IR 3, Constant
  nodes as initializers below opset 9), every node named;
- ``pads``: ``auto_pad`` made explicit, TF "same" pads computed at run time made constants;
- ``batch_norm``: batch norms folded into their convolutions, the rest as ``Mul`` + ``Add``;
- ``heads``: pools and classifier heads in one form (one Flatten, a Gemm head, global pools);
- ``shapes``: shape clean-ups (nested Concats, scalar constants, a pinned batch, identity Slices,
  Reshape chains);
- ``activations``: hard sigmoid and hardswish in one form;
- ``channels_last``: ConvNeXt's channels-last MLPs, layer scale and per-channel constants;
- ``attention``: a ViT's self-attention in one form (and the parts Swin's window attention shares);
- ``tokens``: a ViT's class tokens, LayerNorm axes and PaddleClas's token forms;
- ``windows``: Swin's window attention, patch merging, token MLPs and head
  (``families/swin/template.py``'s form).
"""
