"""borne: run a city's public digital access points.

This small package holds what every part needs and nothing more: the ``borne`` command line,
which loads each part's commands only when asked (so the agent installs alone), and the loader
of typed settings from TOML files and ``BORNE_*`` variables.
"""
