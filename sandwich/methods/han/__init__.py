"""Han et al., "HDR Image Compression with Convolutional Autoencoder" (VCIP 2020): a tone-mapped
JPEG base layer plus a binarized-autoencoder residual layer with iterative rate control, arithmetic
coding and group-CNN post-processing (see method.py)."""
