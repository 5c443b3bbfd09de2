"""Blueprints: thin views that read a form, call one service and render."""
