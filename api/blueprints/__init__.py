"""One blueprint per resource of API.md."""

from flask_smorest import Blueprint as _SmorestBlueprint

from api.schemas import CreditParser


class Blueprint(_SmorestBlueprint):
    """flask-smorest blueprint whose query errors use the error body of API.md §1."""

    ARGUMENTS_PARSER = CreditParser()


def ctx():
    from flask import current_app
    return current_app.extensions["credit"]
