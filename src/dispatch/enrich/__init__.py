"""Making more of an article: its full text where the feed carries an excerpt, its summary
(extractive, or by a language model), and whether another feed already told its story.
"""
