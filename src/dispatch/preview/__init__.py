"""The editors' workbench: the preview's model (what each digest and post would be, and why
each article is in or out) and the local server that shows it and reloads on every change.
"""
