-- Events per day and type, and how many of them had something redacted (last 30 days)
SELECT dt, type, count(*) AS events,
       sum(CASE WHEN cardinality(redactions) > 0 THEN 1 ELSE 0 END) AS events_with_redactions
FROM interactions
WHERE program = '{program}'
  AND dt >= date_format(current_date - interval '30' day, '%Y-%m-%d')
GROUP BY 1, 2
ORDER BY 1, 2
