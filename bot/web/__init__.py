"""The web pages beside the webhook: the coordinators' dashboard and the calendar feed."""
