"""kingme: a small, fast and honest reinforcement-learning lab.

PPO written from its equations, an exact and fast American checkers engine, self-play, an arena of
search bots, a Decision Transformer on graph navigation, and experiments that test PPO folklore.
"""

__version__ = "0.1.0"
