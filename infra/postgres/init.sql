-- Run once, when the postgres volume is new (docker-entrypoint-initdb.d).
-- One database per service: each service owns its event store and nothing else.
-- The participants' key table, which the three services share, is in `tandem` (POSTGRES_DB).
CREATE DATABASE tandem_enrolment;
CREATE DATABASE tandem_matching;
CREATE DATABASE tandem_sessions;
