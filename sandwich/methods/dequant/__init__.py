"""Dequantization-Net (Liu et al., SingleHDR, CVPR 2020) after truncation to 8 bits."""
