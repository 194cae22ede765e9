"""The matching service: pools of eligible mentors and mentees, matching runs, matches."""
