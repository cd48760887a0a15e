-- Which keyboard shortcuts are used in which applications (last 7 days)
SELECT app_name, array_join(modifiers, '+') || '+' || key AS shortcut, count(*) AS uses
FROM interactions
WHERE program = '{program}' AND type = 'key.shortcut'
  AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
GROUP BY 1, 2
ORDER BY uses DESC, app_name, shortcut
LIMIT 100
