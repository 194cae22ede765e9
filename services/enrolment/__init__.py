"""The enrolment service: subsidiaries, their programme, and the people who take part."""
