"""coursekit: the toolkit of a hands-on deep-learning course.

The NumPy reference implementations (``losses``, ``layers``, ``conv`` ...) load
without PyTorch; the PyTorch half (``models``, ``training`` ...) is imported on
demand, so ``import coursekit`` stays fast.
"""

__version__ = "0.1.0"
