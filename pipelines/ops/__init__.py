"""Operations read models: the dashboard's health and backlog, sync reports, managers' scheduled reports, service status."""
