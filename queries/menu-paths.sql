-- Most used menu paths per application (last 7 days)
SELECT app_name, array_join(menu_path, ' > ') AS path, count(*) AS uses
FROM interactions
WHERE program = '{program}' AND type = 'menu.select'
  AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
GROUP BY 1, 2
ORDER BY uses DESC, app_name, path
LIMIT 100
