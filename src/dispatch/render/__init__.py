"""Rendering, pure and sandboxed: Jinja2 templates to MJML and HTML with a plain-text twin,
posts fitted to each network's counting rules and rich text, and the email built around them.
"""
