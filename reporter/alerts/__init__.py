"""Alerts: rules on campaign figures, evaluated on a schedule, told once per change of state."""
