"""ppo_lite: the library behind the PPO course."""
__version__ = "0.1.0"
