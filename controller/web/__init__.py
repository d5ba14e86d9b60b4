"""The staff pages' shared plumbing: the layout, the navigation each domain adds to, template
filters, error pages, the panels object pages are built from, and the static files.

Each domain serves its own pages from its ``web.py`` blueprint and templates under
``templates/<domain>/``; this package serves none.
"""
