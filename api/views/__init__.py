"""HTTP views: thin flask-smorest blueprints, one service call each."""
