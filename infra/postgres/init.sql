-- One database per service: each service owns its event store and nothing else.
CREATE DATABASE tandem_enrolment;
CREATE DATABASE tandem_matching;
CREATE DATABASE tandem_sessions;
