"""The shipped design, installed as package data (see livret/design.py); nothing to import."""
