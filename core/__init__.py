"""Settings, database, migrations, logging and text hygiene shared by every package."""
