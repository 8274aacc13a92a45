"""Jumbe: one core for SMS, SMPP and IoT connectivity APIs."""
