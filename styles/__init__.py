"""The shipped design, installed as package data (see livret/rendering/design.py); nothing to
import."""
