"""Readers for the raw dataset layouts (SFEW, AFEW, CK+, FER2013, RAVDESS, folder-per-class,
unlabelled). Each reader turns a folder into a list of :class:`~emocli.datasets.common.MediaItem`
records (one per image, video clip or audio file); stages decode them."""
